module hearth.local/bench/functions/trace-sleep

go 1.22

require hearth.local/sdk v0.0.0

replace hearth.local/sdk => ../../../runtime/sdk/go
