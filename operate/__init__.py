"""Operating runs in a cluster from the terminal: `orch submit`, `get`, `watch`,
`list`, `cancel`, `resume` (and `kubectl orch ...`).

Why a package of its own: the compiler is pure (no cluster, no environment), and
the controller is a long-running process with the official client; these commands
are neither. They talk to the apiserver through a small stdlib client
(`operate.client`), so a cold `orch get` stays far below half a second (importing
the official client alone costs 0.2 s), and they render what they read with pure
functions (`operate.view`, `operate.render`) that golden files pin down.
"""
