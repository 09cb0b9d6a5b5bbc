from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "minzheng.safety"
    label = "safety"
    verbose_name = "安居守护"

    def ready(self) -> None:
        from minzheng.core.access import register_grants
        from minzheng.core.events import subscribe
        from minzheng.core.navigation import Entry, register
        from minzheng.core.seeding import SeedStep, register_seed_step
        from minzheng.people.events import CareSignalRaised, PersonDied, PersonMovedOut
        from minzheng.people.panels import Panel, register_panel
        from minzheng.safety import tasks, todos
        from minzheng.safety.permissions import GRANTS, SafetyPerm
        from minzheng.safety.selectors import home_panel
        from minzheng.safety.services import handlers
        from minzheng.safety.services.seed import seed_safety

        register_grants(GRANTS)
        subscribe(CareSignalRaised, handlers.on_care_signal)
        subscribe(PersonDied, handlers.on_person_died)
        subscribe(PersonMovedOut, handlers.on_person_moved_out)
        register_seed_step(SeedStep("safety", seed_safety, order=300))
        register_panel(Panel(
            "safety", "安居守护", "safety/panels/home.html", 60, SafetyPerm.VIEW,
            lambda actor, person: home_panel(actor=actor, person=person),
        ))
        for entry in (
            Entry("舒心养老", "安居守护 · 监控台", "safety:console", SafetyPerm.VIEW, 110),
            Entry("舒心养老", "安居守护 · 交接班", "safety:handover", SafetyPerm.VIEW, 120),
            Entry("舒心养老", "安居守护 · 统计报表", "safety:metrics", SafetyPerm.VIEW_METRICS, 130),
        ):
            register(entry)
        todos.register()
        tasks.register_jobs()
