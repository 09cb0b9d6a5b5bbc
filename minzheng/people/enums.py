from minzheng.core.choices import LabelledEnum


class Gender(LabelledEnum):
    MALE = "M", "男"
    FEMALE = "F", "女"


class LivingArrangement(LabelledEnum):
    ALONE = "alone", "独居"
    EMPTY_NEST = "empty_nest", "空巢"
    WITH_FAMILY = "with_family", "与家人同住"
    INSTITUTION = "institution", "机构养老"


class DisabilityCategory(LabelledEnum):
    VISUAL = "visual", "视力残疾"
    HEARING = "hearing", "听力残疾"
    SPEECH = "speech", "言语残疾"
    PHYSICAL = "physical", "肢体残疾"
    INTELLECTUAL = "intellectual", "智力残疾"
    MENTAL = "mental", "精神残疾"
    MULTIPLE = "multiple", "多重残疾"


class SelfCare(LabelledEnum):
    INDEPENDENT = "independent", "能自理"
    PARTIAL = "partial", "半失能"
    DEPENDENT = "dependent", "失能"


class Relation(LabelledEnum):
    HEAD = "head", "户主"
    SPOUSE = "spouse", "配偶"
    CHILD = "child", "子女"
    PARENT = "parent", "父母"
    GRANDCHILD = "grandchild", "孙子女"
    GRANDPARENT = "grandparent", "祖父母"
    SIBLING = "sibling", "兄弟姐妹"
    OTHER = "other", "其他"


class HealthFlag(LabelledEnum):
    CHRONIC = "chronic", "慢性病"
    SERIOUS_ILLNESS = "serious_illness", "重大疾病"
    DEMENTIA = "dementia", "认知障碍"
    BEDRIDDEN = "bedridden", "长期卧床"
    MENTAL_ILLNESS = "mental_illness", "严重精神障碍"


class PersonStatus(LabelledEnum):
    ACTIVE = "active", "在册"
    DECEASED = "deceased", "已故"
    MOVED_OUT = "moved_out", "已迁出"


class GrantStatus(LabelledEnum):
    PENDING = "pending", "待审批"
    APPROVED = "approved", "已批准"
    REJECTED = "rejected", "已驳回"
