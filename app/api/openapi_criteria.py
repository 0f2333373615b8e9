"""OpenAPI paths and schemas of the criteria change log (merged into app/api/openapi.py)."""

from app.api.openapi_base import ID, TIME, error, json_response, nullable, path_id, query_id, ref
from app.api.openapi_metrics import COUNT, DAYS, RATE
from app.api.parse import TIME_MAX

KEYS = {"type": "array", "maxItems": 500, "items": {"type": "string", "maxLength": 64},
        "description": "Field keys of the pipeline (its active fields)."}
DAY = {"type": "string", "format": "date"}
CRITERIA = {
    "type": "object", "required": ["entry", "exit"],
    "properties": {"entry": {"type": "array", "items": {"type": "string"}},
                   "exit": {"type": "array", "items": {"type": "string"}},
                   "buyer": {"type": "array", "items": {"type": "string"}},
                   "next_step": {"type": "boolean"}, "guidance": {"type": "string"}},
}
WINDOW = {
    "type": "object", "required": ["from", "to", "entered", "advanced", "rate", "median_days", "n"],
    "description": "The stage's conversion and time in stage (METRICS.md) over [from, to), dates in the "
                   "organisation's zone, with the deals (entered) and stays (n) behind them.",
    "properties": {"from": DAY, "to": DAY, "entered": COUNT, "advanced": COUNT, "rate": RATE,
                   "median_days": DAYS, "mean_days": DAYS, "n": COUNT},
}
SCHEMAS = {
    "CriteriaChange": {
        "type": "object", "required": ["id", "stage_id", "at", "by", "before", "after", "windows"],
        "properties": {
            "id": ID, "stage_id": ID, "at": TIME, "by": {"type": ["string", "null"]},
            "source": {"enum": ["editor", "set", "stage", "field", "api"]},
            "before": CRITERIA, "after": CRITERIA,
            "windows": {"type": "object", "required": ["before", "after"],
                        "properties": {"before": WINDOW,
                                       "after": {"oneOf": [WINDOW, {"type": "null"}],
                                                 "description": "null while the change is younger than a day; "
                                                                "`to` is today + 1 while younger than 30 days."}}},
        },
    },
    "RequirementsPut": {
        "type": "object", "required": ["entry", "exit"], "additionalProperties": False,
        "properties": {
            "entry": KEYS, "exit": KEYS,
            "buyer": nullable({**KEYS, "description": "Those of entry and exit only a buyer's confirmation meets; "
                                                      "left out: as they are."}),
            "next_step": nullable({"type": "boolean", "description": "Deals stay in the stage only with a next "
                                                                     "step dated today or later (open stages)."}),
            "at": nullable({**TIME, "maxLength": TIME_MAX,
                            "description": "In the past, not before the stage's latest change: a change brought "
                                           "over from elsewhere."}),
        },
    },
}
PIPELINE_ID = path_id("pipeline_id", "A pipeline of your organisation.")
PATHS = {
    "/pipelines/{pipeline_id}/criteria-changes": {"get": {
        "operationId": "listCriteriaChanges",
        "summary": "A pipeline's criteria changes, newest first, with the stage's figures 30 days before and after.",
        "parameters": [PIPELINE_ID, query_id("stage_id", "Only this stage's changes.")],
        "responses": {"200": json_response({"type": "object", "required": ["items"],
                                            "properties": {"items": {"type": "array",
                                                                     "items": ref("CriteriaChange")}}},
                                           "The changes."),
                      "404": error("404", "No such pipeline (or stage of it) in your organisation.")},
    }},
    "/pipelines/{pipeline_id}/stages/{stage_id}/requirements": {"put": {
        "operationId": "putStageRequirements",
        "summary": "Change a stage's entry and exit criteria (admins' keys); the change is logged.",
        "description": "Every key must be an active field of the stage's pipeline. `buyer` lists facts only a "
                       "buyer's confirmation meets: each must also be in entry or exit (a relation between "
                       "fields) and of a type a buyer's tick can fill. A Lost stage takes no facts; only an "
                       "open stage asks for a dated next step. Deals keep moving under the criteria in force "
                       "when they move.",
        "parameters": [PIPELINE_ID, path_id("stage_id", "A stage of that pipeline.")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("RequirementsPut")}}},
        "responses": {"200": json_response(ref("CriteriaChange"), "The logged change."),
                      "403": error("403", "Not an admin's key."),
                      "404": error("404", "No such pipeline or stage in your organisation.")},
    }},
}
