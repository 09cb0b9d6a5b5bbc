from django.apps import AppConfig


class MealsConfig(AppConfig):
    name = "minzheng.meals"
    label = "meals"
    verbose_name = "智慧助餐"

    def ready(self) -> None:
        from minzheng.core.access import register_grants
        from minzheng.core.events import subscribe
        from minzheng.core.navigation import Entry, register
        from minzheng.core.seeding import SeedStep, register_seed_step
        from minzheng.meals import panels, seed, tasks, todos
        from minzheng.meals.permissions import GRANTS, MealsPerm
        from minzheng.meals.services.diners import (
            on_person_died,
            on_person_moved_out,
            on_status_tags_changed,
        )
        from minzheng.people.events import PersonDied, PersonMovedOut, StatusTagsChanged

        register_grants(GRANTS)
        subscribe(PersonDied, on_person_died)
        subscribe(PersonMovedOut, on_person_moved_out)
        subscribe(StatusTagsChanged, on_status_tags_changed)
        for entry in (
            Entry("舒心养老", "助餐结算", "meals:canteen", MealsPerm.CHECKOUT, 10),
            Entry("舒心养老", "助餐概况", "meals:overview", MealsPerm.VIEW, 20),
            Entry("舒心养老", "助餐对象审核", "meals:review-queue", MealsPerm.REVIEW_DINER, 30),
            Entry("舒心养老", "助餐点", "meals:points", MealsPerm.VIEW, 40),
            Entry("舒心养老", "助餐对账", "meals:reconciliation", MealsPerm.RECONCILE, 50),
            Entry("舒心养老", "助餐结算申请", "meals:claims", MealsPerm.VIEW, 60),
            Entry("舒心养老", "跨区清算", "meals:clearing", MealsPerm.CLEARING, 70),
            Entry("舒心养老", "异常就餐预警", "meals:flags", MealsPerm.RECONCILE, 80),
        ):
            register(entry)
        panels.register()
        todos.register()
        tasks.register_jobs()
        # after assistance (300), so the year's meals are priced with the 低保/特困 it records
        register_seed_step(SeedStep("meals", seed.run, order=400))
