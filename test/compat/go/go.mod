module sori.test/compat

go 1.22
