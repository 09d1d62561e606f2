"""`tito grade`: a sandboxed autograder with a SQLite gradebook (docs/classroom.md).

One file per idea: `harness` runs inside the sandbox and defines the report protocol, `sandbox`
starts and contains the child, `workspace` stages one submission beside the instructor's tests,
`rubric` and `gradebook` hold points and results, `grader` runs a class, `report` writes CSV and
feedback pages, `cli` wires the commands into `tito`.
"""
