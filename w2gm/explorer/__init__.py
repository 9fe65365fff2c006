"""The explorer: a local web app for a model's senses, uncertainty and entailment.

``views`` computes what the page shows from a :class:`~w2gm.keyed.KeyedMixtures`,
``projection`` draws components in 2-D,
``app`` serves all of it over HTTP and ``commands`` adds ``w2gm serve``.
"""
