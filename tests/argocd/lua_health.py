"""Run the Argo CD health check (health.lua) in a real Lua interpreter, sandboxed like Argo CD runs it.

Argo CD runs health scripts in gopher-lua, a Lua 5.1, with only the base, table, package and a reduced os
library open unless `useOpenLibs` is set for the kind (argocd-cm customizations default to off). Here the
script runs in lupa's Lua 5.1 with the string, math, io, os, debug and coroutine libraries removed, and
without the string metatable, so that `s:find(...)` fails as it does in Argo CD without open libs.

The object goes in as Argo CD passes it (`decodeValue` in util/lua/lua.go): maps and lists become tables,
numbers numbers, null becomes nil.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECK_DIR = REPO_ROOT / "resource_customizations" / "inference.es-operator.dev" / "InferenceEndpoint"
HEALTH_LUA = CHECK_DIR / "health.lua"
HEALTH_TEST = CHECK_DIR / "health_test.yaml"
TESTDATA = CHECK_DIR / "testdata"

# gitops-engine's HealthStatusCode values a script may return (others become Unknown in Argo CD).
VALID_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

_SANDBOX = """
debug.setmetatable("", nil)
string, math, io, os, debug, coroutine = nil, nil, nil, nil, nil, nil
dofile, loadfile = nil, nil
"""


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    if isinstance(value, datetime.datetime | datetime.date):
        # sigs.k8s.io/yaml (what Argo CD's tests use) keeps timestamps as strings.
        return value.isoformat()
    return value


def evaluate(obj: dict[str, Any], script: str | None = None) -> tuple[str, str | None]:
    """(status, message) that health.lua (or `script`) returns for `obj`."""
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    runtime.execute(_SANDBOX)
    runtime.globals()["obj"] = _to_lua(runtime, obj)
    result = runtime.execute(script if script is not None else HEALTH_LUA.read_text())
    if result is None or lua51.lua_type(result) != "table":
        raise AssertionError(f"health.lua returned {result!r}, not a table")
    status, message = result["status"], result["message"]
    if status not in VALID_STATUSES:
        raise AssertionError(f"health.lua returned an invalid health status {status!r}")
    return str(status), None if message is None else str(message)
