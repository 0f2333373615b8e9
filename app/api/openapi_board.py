"""OpenAPI for the board issue's API change: a deal's company, by name or by id, on create and PATCH.

No new operations (PATHS is empty); SCHEMAS adds the company properties to the Deal schemas that
openapi.py defines, merged there with one line.
"""

from app.api.openapi_base import ID, nullable, text

COMPANY_IN = {
    "company": {**nullable(text(200)),
                "description": "The company's name, matched case-insensitively; a new name creates the "
                               "company; null or empty clears it. Not together with company_id."},
    "company_id": {**nullable(ID),
                   "description": "An existing company of your organisation (422 otherwise); null clears it."},
}
COMPANY_OUT = {"company_id": {"type": ["integer", "null"]}, "company": {"type": ["string", "null"]}}

PATHS: dict = {}
SCHEMAS = {"DealCreate": COMPANY_IN, "DealPatch": COMPANY_IN, "Deal": COMPANY_OUT}  # properties to add


def merge(schemas: dict) -> dict:
    """Add the company properties to the Deal schemas of `schemas` (in place); return it."""
    for name, properties in SCHEMAS.items():
        schemas[name]["properties"].update(properties)
        if name != "Deal":  # a name or an id, never both
            schemas[name]["not"] = {"required": ["company", "company_id"]}
    schemas["Deal"]["required"] = [*schemas["Deal"]["required"], *[k for k in COMPANY_OUT
                                                                    if k not in schemas["Deal"]["required"]]]
    return schemas
