"""deals: index deal.contact_id and deal.company_id

A contact's page, a company's page, lead routing by company owner and the reports'
visitor-to-customer rate ("a form contact with a won deal") all look deals up by contact or
company; without these indexes each lookup read every deal of the database.

Revision ID: a7c3d9e1f254
Revises: 5e1f0c2a7b93
Create Date: 2026-11-27 16:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7c3d9e1f254'
down_revision = '5e1f0c2a7b93'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.create_index('ix_deal_contact', ['contact_id'], unique=False)
        batch_op.create_index('ix_deal_company', ['company_id'], unique=False)


def downgrade():
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_company')
        batch_op.drop_index('ix_deal_contact')
