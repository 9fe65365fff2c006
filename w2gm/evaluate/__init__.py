"""Evaluation suite: every quantitative result of the paper's Section 4 on a trained model.

* :mod:`.datasets`   readers for the evaluation files in their real formats
* :mod:`.catalogue`  the paper's datasets and where they live (bundled, or ``--data-dir``)
* :mod:`.pairs`      batched scoring of word pairs and the OOV policy
* :mod:`.similarity` word similarity, Table 2
* :mod:`.scws`       similarity in context, Table 4
* :mod:`.entailment` entailment with tuned and cross-validated thresholds, Table 5
* :mod:`.neighbors`  senses and variances, Table 1 and 4.5
* :mod:`.report`     tables as text, Markdown and JSON
* :mod:`.suite`      all of it, as ``w2gm eval`` runs it; :mod:`.commands` the CLI
"""

from .suite import SuiteOptions, SuiteResults, run_suite, suite_tables

__all__ = ["SuiteOptions", "SuiteResults", "run_suite", "suite_tables"]
