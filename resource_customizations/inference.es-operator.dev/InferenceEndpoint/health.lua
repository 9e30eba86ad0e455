-- Health of an InferenceEndpoint (es-inference-operator): an Elasticsearch inference endpoint.
--
-- The CRD is kstatus-compliant: the operator writes status.observedGeneration, the positive-polarity
-- condition Ready, and kstatus' abnormal-true conditions Reconciling (retrying on its own) and Stalled
-- (needs a person: the spec, a Secret or Elasticsearch must change first). Besides these, Conflict=True
-- means another resource manages the same inference id, and DeletionBlocked=True that a deletion waits
-- for ingest pipelines or semantic_text indexes that still use the endpoint.
--
-- Only the base and table libraries are used (no string, os or io), so that the script runs as an
-- argocd-cm customization without useOpenLibs, in Argo CD's Lua 5.1 (gopher-lua).

local function condition(ctype)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

local function isFalse(c)
  return c ~= nil and c.status == "False"
end

local function messageOf(c)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return c.type .. " is " .. tostring(c.status)
end

local hs = {}

-- Deleting. Argo CD (gitops-engine) reports any object with a deletionTimestamp as Progressing "Pending
-- deletion" before this script runs; Argo CD PR #27596 runs the script during deletion too, so that the
-- message can say why a deletion waits. The finalizer stays until the endpoint is gone in Elasticsearch.
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  local blocked = condition("DeletionBlocked")
  hs.status = "Progressing"
  if isTrue(blocked) then
    -- Waits for pipelines or indexes; the message names them and says how to force the deletion.
    hs.message = "deletion blocked: " .. messageOf(blocked)
  elseif isFalse(blocked) and blocked.message ~= nil and blocked.message ~= "" then
    -- Waits for something else (Elasticsearch unreachable, refusing, credentials), retried by the operator.
    hs.message = "deleting: " .. blocked.message
  else
    hs.message = "deleting"
  end
  return hs
end

-- A status that speaks about an older spec (or no status yet) says nothing about the current one.
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if generation ~= nil and tonumber(observed) ~= tonumber(generation) then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = condition("Ready")
local synced = condition("Synced")
local reconciling = condition("Reconciling")
local stalled = condition("Stalled")
local conflict = condition("Conflict")

-- Another resource manages this inference id: this one never touches the endpoint.
if isTrue(conflict) then
  hs.status = "Degraded"
  hs.message = messageOf(conflict)
  return hs
end

-- The operator cannot go on by itself (Elasticsearch refused the endpoint, an existing endpoint with
-- another configuration, a change that needs a new endpoint, no update API).
if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = messageOf(stalled)
  return hs
end

-- Ready speaks of the generation it was decided for (its own observedGeneration): Ready=True for an older
-- generation says nothing of the current spec, which has not been applied yet (Elasticsearch down during an
-- edit, say). Never Healthy then: a sync wave must not go on as if the change had happened.
if isTrue(ready) and generation ~= nil and ready.observedGeneration ~= nil
    and tonumber(ready.observedGeneration) ~= tonumber(generation) then
  hs.status = "Progressing"
  hs.message = "generation " .. tostring(generation) .. " is not applied yet"
  if isFalse(synced) then
    hs.message = hs.message .. ": " .. messageOf(synced)
  end
  return hs
end

-- The endpoint exists and matches the spec. A failing check of an endpoint that was in line (Elasticsearch
-- unreachable for a while) keeps it Healthy, but says so.
if isTrue(ready) then
  hs.status = "Healthy"
  hs.message = messageOf(ready)
  if isFalse(synced) then
    hs.message = hs.message .. "; last check failed: " .. messageOf(synced)
  end
  return hs
end

-- Not ready yet, and the operator retries by itself (Elasticsearch unreachable, a Secret not there yet).
if isFalse(ready) and isTrue(reconciling) then
  hs.status = "Progressing"
  hs.message = messageOf(reconciling)
  return hs
end

if isFalse(ready) then
  hs.status = "Progressing"
  hs.message = messageOf(ready)
  return hs
end

hs.status = "Progressing"
hs.message = "waiting for the operator to report Ready"
return hs
