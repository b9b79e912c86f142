-- wrk script: POST /v1/match with batches of 100 random pdq hashes (200
-- pre-built bodies). hashes/s = requests/s x 100.
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
math.randomseed(7)
for i = 1, 200 do
  local items = {}
  for j = 1, 100 do
    items[j] = '{"type":"pdq","hash":"' .. rand_hash() .. '","quality":100}'
  end
  bodies[i] = '{"signals":[' .. table.concat(items, ",") .. ']}'
end
local n = 0
request = function()
  n = n % 200 + 1
  return wrk.format(nil, nil, nil, bodies[n])
end
