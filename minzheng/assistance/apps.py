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
        from minzheng.assistance.services.status_tags import STATUS_TAGS
        from minzheng.core.access import register_grants
        from minzheng.core.events import subscribe
        from minzheng.core.seeding import SeedStep, register_seed_step
        from minzheng.people.events import CareSignalRaised, PersonDied, PersonMovedOut
        from minzheng.people.services import register_owned_tags

        register_grants(GRANTS)
        register_owned_tags("社会救助", STATUS_TAGS.values())
        subscribe(PersonDied, on_person_died)
        subscribe(PersonMovedOut, on_person_moved_out)
        subscribe(CareSignalRaised, on_care_signal)
        navigation.register_entries()
        navigation.register_todos()
        tasks.register_jobs()
        panels.register()
        register_seed_step(SeedStep("assistance", seed.run, order=300))
