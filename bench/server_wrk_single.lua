-- wrk script: POST /v1/match with one random pdq hash per request (1000
-- pre-built bodies, so wrk spends its CPU on requests, not on Lua).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TAKEBACK_API_KEY")
local bodies = {}
local hex = "0123456789abcdef"
local function rand_hash()
  local t = {}
  for i = 1, 64 do
    local k = math.random(1, 16)
    t[i] = hex:sub(k, k)
  end
  return table.concat(t)
end
math.randomseed(42)
for i = 1, 1000 do
  bodies[i] = '{"type":"pdq","hash":"' .. rand_hash() .. '","quality":100}'
end
local n = 0
request = function()
  n = n % 1000 + 1
  return wrk.format(nil, nil, nil, bodies[n])
end
