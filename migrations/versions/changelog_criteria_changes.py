"""changelog: criteria_change (every edit of a stage's criteria or guidance, with who and when) and
stage.needs_next_step (closing discipline)

Revision ID: abbfeeb3d5fe
Revises: 1b8f7a396050
Create Date: 2026-12-05 02:26:52.533746

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'abbfeeb3d5fe'
down_revision = '1b8f7a396050'
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('criteria_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_criteria_change_org_id_organization')),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipeline.id'], name=op.f('fk_criteria_change_pipeline_id_pipeline')),
    sa.ForeignKeyConstraint(['stage_id'], ['stage.id'], name=op.f('fk_criteria_change_stage_id_stage'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_criteria_change_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_criteria_change'))
    )
    with op.batch_alter_table('criteria_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_criteria_change_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_criteria_change_pipeline_at', ['pipeline_id', 'at'], unique=False)
        batch_op.create_index('ix_criteria_change_stage_at', ['stage_id', 'at'], unique=False)

    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs_next_step', sa.Boolean(), server_default=sa.false(), nullable=False))




def downgrade():
    
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_column('needs_next_step')

    with op.batch_alter_table('criteria_change', schema=None) as batch_op:
        batch_op.drop_index('ix_criteria_change_stage_at')
        batch_op.drop_index('ix_criteria_change_pipeline_at')
        batch_op.drop_index(batch_op.f('ix_criteria_change_org_id'))

    op.drop_table('criteria_change')

