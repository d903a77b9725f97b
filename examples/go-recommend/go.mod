module hearth.local/examples/go-recommend

go 1.22

require hearth.local/sdk v0.0.0

replace hearth.local/sdk => ../../runtime/sdk/go
