"""The terminal: every `orch` command (and `kubectl orch ...`), from the one entry
point that builds their parser (`operate.cli`).

Why a package of its own: the compiler is pure (no files, no stdout, no cluster),
and the controller is a long-running process with the official client; the
commands a person types are neither. The file commands (compile, validate, plan,
graph, crds) read files and print what the compiler finds; the cluster commands
(submit, get, watch, list, cancel, resume) talk to the apiserver through a small
stdlib client (`operate.client`), so a cold `orch get` stays far below half a
second (importing the official client alone costs 0.2 s), and render what they
read with pure functions (`operate.view`, `operate.render`) that golden files pin
down.
"""
