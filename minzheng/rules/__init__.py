"""The pure policy engine (DESIGN §4 rule 4): parameters as dated, sourced data; programs as
vectorised functions with explained decisions; a what-if over a whole population.

Public entry points: ``minzheng.rules.parameters`` (``param``, ``load_parameters``, ``ParameterSet``),
``minzheng.rules.programs.<program>.evaluate / evaluate_many``, ``minzheng.rules.whatif.whatif``.
Nothing here imports Django except ``apps.py``.
"""
