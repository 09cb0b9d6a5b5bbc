from django.apps import AppConfig


class AssistanceConfig(AppConfig):
    name = "minzheng.assistance"
    label = "assistance"
    verbose_name = "精准救助"

    def ready(self) -> None:
        from minzheng.assistance import navigation, panels, seed, tasks
        from minzheng.assistance.permissions import GRANTS
        from minzheng.assistance.services.discovery import on_care_signal
        from minzheng.assistance.services.enrolment import on_person_died, on_person_moved_out
        from minzheng.core.access import register_grants
        from minzheng.core.events import subscribe
        from minzheng.core.seeding import SeedStep, register_seed_step
        from minzheng.people.events import CareSignalRaised, PersonDied, PersonMovedOut

        register_grants(GRANTS)
        subscribe(PersonDied, on_person_died)
        subscribe(PersonMovedOut, on_person_moved_out)
        subscribe(CareSignalRaised, on_care_signal)
        navigation.register_entries()
        navigation.register_todos()
        tasks.register_jobs()
        panels.register()
        register_seed_step(SeedStep("assistance", seed.run, order=300))
