"""Real-time lookup: is this person known, and under which match ID?

One module per idea, imported where used (this package imports nothing, so
:mod:`linkage.service.settings` can read the policy and rate types without
the matching engine):

* :mod:`~linkage.service.lookup.policy`: what an answer may say (the
  ``lookup`` block of the policy file);
* :mod:`~linkage.service.lookup.ratelimit`: a token bucket per agency;
* :mod:`~linkage.service.lookup.index`: a run's linked records in memory,
  scored as the run scored them;
* :mod:`~linkage.service.lookup.desk`: one index per project, replaced when
  a newer run completes, and the checks on a submitted file;
* :mod:`~linkage.service.lookup.answer`: the answer's shape.

The route is :mod:`linkage.service.routes.lookup`.
"""
