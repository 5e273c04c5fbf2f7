-- etcd v3 JSON gateway puts (POST /v3/kv/put, base64 key and value) of <bytes>-byte values,
-- rotating through 4096 keys <prefix>0 .. <prefix>4095.
--   wrk -t1 -c64 -d10s --latency -s bench/lua/etcd-put.lua http://127.0.0.1:2379 -- [prefix] [bytes]
-- Defaults: prefix "bench/", 100 bytes. Used by bench/single.ts and bench/cluster.ts.
local keysInRotation = 4096
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(text)
  local out = {}
  for i = 1, #text, 3 do
    local a, b, c = text:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for j = 3, 0, -1 do
      local k = math.floor(n / 64 ^ j) % 64
      chars[#chars + 1] = alphabet:sub(k + 1, k + 1)
    end
    if not b then chars[3] = "=" end
    if not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

local bodies = {}
local counter = 0

function init(args)
  local prefix = args[1] or "bench/"
  local value = base64(string.rep("v", tonumber(args[2] or 100)))
  for i = 0, keysInRotation - 1 do
    bodies[i + 1] = '{"key":"' .. base64(prefix .. i) .. '","value":"' .. value .. '"}'
  end
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, bodies[(counter % keysInRotation) + 1])
end
