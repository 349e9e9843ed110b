"""The Helm chart checked the way a reviewer would, for `scripts/validate` and the
e2e tests alike.

Why a package of its own: the validation command and `tests/e2e/test_chart.py`
must render the same values combinations, apply them to the same apiserver in the
same way and judge RBAC by the same rules; two copies would drift. It uses the
test cluster (`tests.cluster`) and the real `helm`/`argo` binaries that
`tools/build.sh` builds.

- `helm`: the chart's paths, the documented values combinations, `helm lint` and
  `helm template` as functions.
- `apiserver`: server-side apply (dry-run or real) that returns the apiserver's
  `Warning` headers, and the prometheus-operator ServiceMonitor CRD.
- `rbac`: what the rendered Roles grant a ServiceAccount and what the audit log
  saw it do, as comparable sets.
- `validate` (`python -m tests.chart`): every check, a summary, an exit code.
"""
