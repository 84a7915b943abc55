"""The project's pipelines, one package each, found by ``find_pipelines``."""

ID_COLUMN = "params:raw_schema.id_column"  # node input: the identifier column's name
