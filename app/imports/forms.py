from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField
from wtforms.validators import DataRequired, Optional

from app.models.activity import IMPORT_KINDS


class UploadForm(FlaskForm):
    kind = SelectField("The file holds", choices=list(IMPORT_KINDS.items()), default="contacts",
                       validators=[DataRequired()])
    pipeline_id = SelectField("Pipeline (for deals)", coerce=int, validators=[Optional()],
                              description="Deals go into this pipeline; each row's stage is matched by name.")
    file = FileField("CSV file", description="Up to 50 MB. Pipedrive and HubSpot exports work as they are.")
