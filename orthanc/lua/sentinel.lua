-- Tells Sentinel that a study has become stable in Orthanc, the fast way in.
-- HttpPost is fire-and-forget: if Sentinel is down the event is lost, which is why Sentinel
-- also reads Orthanc's /changes feed with a stored cursor. SENTINEL_EVENTS_URL and
-- SENTINEL_TOKEN are defined by settings.lua, which `sentinel stack up` generates.

-- Orthanc holds its Lua lock while HttpPost waits; orthanc.json's HttpTimeout keeps that
-- wait short, and Sentinel answers before doing any work.

function OnStableStudy(studyId, tags, metadata)
  local body = '{"changeType":"StableStudy","resourceId":"' .. studyId ..
    '","studyInstanceUid":"' .. (tags['StudyInstanceUID'] or '') .. '"}'
  local headers = {
    ['Content-Type'] = 'application/json',
    ['Authorization'] = 'Bearer ' .. SENTINEL_TOKEN
  }
  local ok, err = pcall(HttpPost, SENTINEL_EVENTS_URL, body, headers)
  if not ok then
    print('sentinel: event for study ' .. studyId .. ' not delivered (the /changes poller will catch it): ' .. tostring(err))
  end
end
