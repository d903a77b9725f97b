module hearth.local/sdk

go 1.22
