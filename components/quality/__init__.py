"""How the models do on the newest span: the serving model's quality
(``serving``: AUC with its interval, prediction drift, the verdict against its
push-time reference), the challenger and staleness (``challenger``), and the
metrics they share (``metrics``). The canary's judgement stays in
``components/canary/``."""
