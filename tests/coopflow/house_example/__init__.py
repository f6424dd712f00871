"""A small example process, written in the places ``docs/architecture.md`` lists for a
new process, one module per layer: ``definition.py`` (workflows/processes/<p>/),
``steps.py`` (workers/steps/<p>.py), ``portal.py`` and ``templates/portal/example/``
(web/portal/<p>.py), ``staff.py`` (admin/processes/<p>.py). ``tests/coopflow/
test_house.py`` registers it with one line in each registry and runs its journey."""
