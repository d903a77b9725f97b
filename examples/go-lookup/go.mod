module hearth.local/examples/go-lookup

go 1.22

require hearth.local/sdk v0.0.0

replace hearth.local/sdk => ../../runtime/sdk/go
