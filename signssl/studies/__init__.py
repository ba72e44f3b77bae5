"""Experiment drivers, above both training (:mod:`signssl.engine`) and evaluation
(:mod:`signssl.eval`): they pretrain, evaluate and compare.

* :mod:`signssl.studies.study`: variants x seeds from a YAML spec (``signssl study``),
  mean and 95 % CI per metric; the spec in :mod:`~signssl.studies.study_spec`, the
  summary and report in :mod:`~signssl.studies.study_report`;
* :mod:`signssl.studies.demo`: the end-to-end demonstration on synthetic data
  (``signssl demo``);
* :mod:`signssl.studies.boundary_search`: the SL-FPN boundary-permutation search
  (``signssl boundary-search``).
"""
