"""``driftgate backtest``: replay a region's history under retraining policies
and score each against hindsight.

``matrix`` trains one model per span with the production trainer and scores
it on every later span (kept on disk: train once, replay many); ``signals``
computes each span's drift report with the production gate (TFDV statistics,
``components.gate.assess.assess``); ``policies`` walks the matrix under each
policy (pure); ``report`` renders tables, JSON and HTML; ``run`` ties them.

Docs: ``docs/backtest.md``.
"""
