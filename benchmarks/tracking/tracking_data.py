"""The synthetic runs of the tracking benchmark, the same for both servers (populate.py writes them,
bench_search.py computes the expected answers from them).

Every run is in experiment 1 ('bench'), FINISHED and active, and has:
- metrics m0..m{M-1}: one value each at step 0 (so its history is its latest value). For every key the
  values over all runs are a permutation of (i + 0.5) / RUNS, i = 0..RUNS-1: distinct, uniform in (0, 1),
  so `metrics.mK < 0.5` keeps half the runs and any order by one metric is unique (no ties);
- params p0..p4 (strings): p0 a learning rate, p1 one of x/y/z/w (so `params.p1 = 'x'` keeps a quarter),
  p2 a depth, p3 an optimizer, p4 a seed;
- tags mlflow.runName (= the run name), mlflow.user, team.

Everything comes from numpy's default_rng(seed), so the same (runs, metrics, seed) give the same rows.
"""
import numpy as np

EXPERIMENT_ID = 1
EXPERIMENT_NAME = "bench"
USER = "bench"
BASE_TIME_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
P0 = ["0.001", "0.003", "0.01", "0.03", "0.1", "0.3"]
P1 = ["x", "y", "z", "w"]
P3 = ["adam", "adamw", "sgd", "rmsprop"]
PARAM_KEYS = ["p0", "p1", "p2", "p3", "p4"]
TAG_KEYS = ["mlflow.runName", "mlflow.user", "team"]


class Data:
    def __init__(self, runs: int, metrics: int, seed: int):
        if runs < 1 or metrics < 1:
            raise ValueError("runs and metrics must be positive")
        self.runs, self.n_metrics, self.seed = runs, metrics, seed
        rng = np.random.default_rng(seed)
        raw = rng.bytes(16 * runs)
        self.run_ids = [raw[16 * i:16 * i + 16].hex() for i in range(runs)]
        if len(set(self.run_ids)) != runs:
            raise RuntimeError("run id collision (change the seed)")
        self.run_names = [f"run-{i:07d}" for i in range(runs)]
        self.start_time = BASE_TIME_MS + np.arange(runs, dtype=np.int64) * 1000
        self.end_time = self.start_time + rng.integers(1_000, 600_000, size=runs, dtype=np.int64)
        self.metric_keys = [f"m{k}" for k in range(metrics)]
        # values[k, i]: metric m{k} of run i
        self.values = np.empty((metrics, runs), dtype=np.float64)
        for k in range(metrics):
            self.values[k] = (rng.permutation(runs).astype(np.float64) + 0.5) / runs
        self.metric_ts = self.start_time + 500
        p0 = rng.integers(0, len(P0), size=runs)
        p1 = rng.integers(0, len(P1), size=runs)
        p2 = rng.integers(2, 13, size=runs)
        p3 = rng.integers(0, len(P3), size=runs)
        p4 = rng.integers(0, 1_000_000, size=runs)
        self.params = [
            [P0[a] for a in p0],
            [P1[a] for a in p1],
            [str(int(a)) for a in p2],
            [P3[a] for a in p3],
            [str(int(a)) for a in p4],
        ]
        team = rng.integers(0, 7, size=runs)
        self.tags = [list(self.run_names), [USER] * runs, [f"team-{int(t)}" for t in team]]

    def artifact_uri(self, i: int) -> str:
        return f"mlflow-artifacts:/{EXPERIMENT_ID}/{self.run_ids[i]}/artifacts"

    def metric_index(self, key: str) -> int:
        return self.metric_keys.index(key)

    def expected(self, metric_lt: tuple, order_desc: str, max_results: int, param_eq: tuple = None):
        """Run ids of the first page and the number of matching runs for
        `metrics.<a> < v [and params.<p> = 'x']` ordered by `metrics.<b> DESC`."""
        key, bound = metric_lt
        mask = self.values[self.metric_index(key)] < bound
        if param_eq is not None:
            pkey, pval = param_eq
            col = self.params[PARAM_KEYS.index(pkey)]
            mask &= np.array([v == pval for v in col])
        idx = np.nonzero(mask)[0]
        order = idx[np.argsort(-self.values[self.metric_index(order_desc)][idx], kind="stable")]
        return [self.run_ids[i] for i in order[:max_results]], int(mask.sum())
