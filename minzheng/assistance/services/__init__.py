"""Writes of 精准救助, one module per area: ``applications``, ``enrolment`` (dynamic management and
the spine-event handlers), ``payroll``, ``visits``, ``discovery`` and ``records``. Every service is
keyword-only in ``actor``, runs in one transaction and audits each state change."""
