"""Verification of generated Verilog with cocotb on Verilator: runner, stream pieces, benches."""
