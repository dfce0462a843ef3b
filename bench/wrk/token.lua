-- client_secret_post for the 20 bench clients in turn
local n = 0
request = function()
  n = n + 1
  local body = string.format("grant_type=client_credentials&client_id=bench-client-%02d&client_secret=bench-Secret-4f1c9e27%%21", n % 20)
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
