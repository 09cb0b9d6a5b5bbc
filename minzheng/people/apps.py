from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "minzheng.people"
    label = "people"
    verbose_name = "人员档案"

    def ready(self) -> None:
        from minzheng.core.access import register_grants
        from minzheng.core.navigation import Entry, register
        from minzheng.people import panels
        from minzheng.people.permissions import GRANTS, PeoplePerm

        register_grants(GRANTS)
        panels.register_core_panels()
        register(Entry("审批", "批量导出审批", "web:export-approval-queue", PeoplePerm.APPROVE_EXPORT, 20))
