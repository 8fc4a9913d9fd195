"""Evaluation and measurement of matcher: what the tools in tools/ are front ends on.

Modules (import them directly; nothing heavy is imported here):

* :mod:`~matcher.evaluation.data` — the shared data sets (../shared/data): pairs, beat and
  onset annotations, evaluation cases;
* :mod:`~matcher.evaluation.metrics` — the beat-error metric every tool uses
  (:func:`~matcher.evaluation.metrics.beat_errors`) and its pooled summary;
* :mod:`~matcher.evaluation.synthetic` — synthetic pairs with exact truth (matcher.synth);
* :mod:`~matcher.evaluation.truth`, :mod:`~matcher.evaluation.jumps`,
  :mod:`~matcher.evaluation.jump_runs` — takes edited to jump, pause or lose audio, and
  the re-lock metrics (tools/eval_jumps.py);
* :mod:`~matcher.evaluation.corpus`, :mod:`~matcher.evaluation.conditions`,
  :mod:`~matcher.evaluation.percussion` — the ASAP corpus pairs, their acoustic conditions
  and synthetic percussion pieces; :mod:`~matcher.evaluation.tracking` — its metrics;
  :mod:`~matcher.evaluation.corpus_runs` — pair and condition selection, the methods and
  figures on it (tools/build_corpus.py, tools/eval_corpus.py);
  :mod:`~matcher.evaluation.corpus_check` — checks of its truth (tools/check_corpus.py);
* :mod:`~matcher.evaluation.score_following` — the score as reference, a rendered
  performance as take (tools/eval_score_following.py);
* :mod:`~matcher.evaluation.browser` — ``matcher serve`` in headless Chromium with a fake
  microphone, and what its page showed (tools/bench_serve.py, tests/test_serve_browser.py);
* :mod:`~matcher.evaluation.edits`, :mod:`~matcher.evaluation.score_cases`,
  :mod:`~matcher.evaluation.score_edits` — validation of the practice scorer by known
  edits (tools/eval_score.py);
* :mod:`~matcher.evaluation.session`, :mod:`~matcher.evaluation.soak` — a simulated
  rehearsal followed for hours (tools/soak.py);
* :mod:`~matcher.evaluation.runs`, :mod:`~matcher.evaluation.baselines` — methods run over
  the shared pairs, and the baselines (chroma DTW, pymatchmaker, synctoolbox);
* :mod:`~matcher.evaluation.measure` — RSS above start-up, peak memory, timers,
  percentiles, measuring subprocesses;
* :mod:`~matcher.evaluation.pauses` — held spans in a followed take, tempo without them;
* :mod:`~matcher.evaluation.pulse` — a file-fed PulseAudio microphone (tests, bench_live);
* :mod:`~matcher.evaluation.report` — plain-text tables;
* :mod:`~matcher.evaluation.params` — follower settings from a command line, and the
  ``--json OUT`` / ``--param NAME=VALUE`` options several tools share;
* :mod:`~matcher.evaluation.bench_follow`, :mod:`~matcher.evaluation.bench_follow_live` —
  the follower's step throughput against pymatchmaker on given arrays, per-hop latency and
  memory (tools/bench_follow.py); :mod:`~matcher.evaluation.bench_compare` — ``matcher
  compare`` on long pairs against librosa (tools/bench_compare.py);
  :mod:`~matcher.evaluation.bench_preprocess` — offline preprocessing's real-time factor
  (tools/bench_preprocess.py); :mod:`~matcher.evaluation.bench_live` — live following at
  real-time pace (tools/bench_live.py); :mod:`~matcher.evaluation.bench_sessions` — many
  sessions on one core (tools/bench_sessions.py); :mod:`~matcher.evaluation.bench_cli` —
  whole ``follow`` commands against their floors (tools/bench_cli.py).
"""
