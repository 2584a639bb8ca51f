"""The helpline 155330: analytic Erlang formulas, the call engine, staffing and its CLI."""
