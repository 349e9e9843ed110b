"""The kernel both halves of orch stand on: what an Orchestration and an
OrchestrationRun are, and what they mean.

Here, and imported by the compiler, the controller and the terminal commands
alike (as Tekton keeps `pkg/apis` and kubebuilder `api/` below their
reconcilers): the resource types (`models`), their words (`vocabulary`: phases,
reasons, condition types), the names the cluster knows them and Argo by
(`api`, `argo`), the name rules of the fields users write (`names`), and the
contract's §3 as one pure function (`semantics`, over `graph`). Nothing here
reads a file, the clock, the environment or a cluster, and nothing here imports
another package of the project (.importlinter).

Why the name: installed top-level packages share site-packages with every other
distribution; `api` or `core` would be anyone's. `orchapi` carries the
distribution's name (orch) and the word Kubernetes uses for such a package.
"""
