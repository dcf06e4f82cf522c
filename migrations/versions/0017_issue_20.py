"""Issue 20: outcome indicators (indicator.is_outcome), 行业 (member.industry), 典型 nominations
(exemplar_nomination) and 补位 invitations (match_invitation)


Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 00:27:26.468413
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UtcDateTime

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exemplar_nomination',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('citation', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('nominated', 'selected', 'returned', 'withdrawn')", name=op.f('ck_exemplar_nomination_status')),
    sa.CheckConstraint('version > 0', name=op.f('ck_exemplar_nomination_version_positive')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_exemplar_nomination_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['user_account.id'], name=op.f('fk_exemplar_nomination_decided_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_exemplar_nomination_member_id_member')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_exemplar_nomination_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exemplar_nomination')),
    sa.UniqueConstraint('org_id', 'member_id', 'year', name=op.f('uq_exemplar_nomination_org_id_member_id_year'))
    )
    with op.batch_alter_table('exemplar_nomination', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exemplar_nomination_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_exemplar_nomination_status_year', ['status', 'year'], unique=False)
        batch_op.create_index('uq_exemplar_nomination_creator_key', ['created_by_user_id', 'submission_key'], unique=True)

    op.create_table('match_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.CheckConstraint("channel IN ('inapp', 'sms', 'list')", name=op.f('ck_match_invitation_channel')),
    sa.ForeignKeyConstraint(['county_id'], ['organisation.id'], name=op.f('fk_match_invitation_county_id_organisation')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_match_invitation_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_match_invitation_member_id_member')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_match_invitation_org_id_organisation')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_match_invitation_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_invitation'))
    )
    with op.batch_alter_table('match_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_match_invitation_county_task', ['county_id', 'task_id'], unique=False)
        batch_op.create_index('ix_match_invitation_member', ['member_id'], unique=False)
        batch_op.create_index('uq_match_invitation_creator_key', ['created_by_user_id', 'submission_key', 'member_id'], unique=True)

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_outcome', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('industry', sa.String(length=32), nullable=True))

    _add_default_outcomes()



# The default outcome indicators of app/data/catalogue.json as they were when this revision was
# written (a migration must not change with the data file): per task, by its name in the current
# campaign. A fresh database gets them from the catalogue itself (load_catalogue).
_PEOPLE = ("受益群众", "人", "count", "惠及群众{value}{unit}")
_JOBS = ("带动就业", "人", "count", "带动就业{value}{unit}")
_INCOME = ("带动增收", "万元", "money", "带动群众增收{value}{unit}")
DEFAULT_OUTCOMES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "帮助脱贫地区发展特色产业、提供技术服务": (_PEOPLE, _JOBS, _INCOME),
    "帮助脱贫地区开展农产品线上线下销售活动": (_PEOPLE, _INCOME),
    "帮助脱贫群众开展就业技能培训": (_PEOPLE, _JOBS),
    "帮助有劳动能力的低收入人口寻找就业岗位": (_PEOPLE, _JOBS, _INCOME),
    "帮助脱贫村壮大集体经济出主意想办法": (_PEOPLE,),
    "帮助脱贫乡村领办创办或协办产业项目": (_PEOPLE, _JOBS, _INCOME),
    "帮助脱贫地区县乡医疗机构提高诊疗水平": (_PEOPLE,),
    "帮助低收入家庭学子完成学业": (_PEOPLE,),
    "为脱贫村人居环境建设短板弱项出资出力": (_PEOPLE,),
    "为脱贫地区美丽宜居乡村建设建言献策": (_PEOPLE,),
}


def _add_default_outcomes() -> None:
    """A database whose catalogue was loaded before outcomes existed gets the default outcome
    indicators on the current campaign's tasks (by name; owner = the task's owner, after its own
    indicators). An empty database has no campaign yet: load_catalogue brings them later."""
    conn = op.get_bind()
    tasks = conn.execute(sa.text(
        "SELECT t.id, t.name, t.owner_org_id FROM task t JOIN campaign c ON c.id = t.campaign_id "
        "WHERE c.is_current = :yes"), {"yes": True}).all()
    for task_id, name, owner_id in tasks:
        wanted = DEFAULT_OUTCOMES.get(name, ())
        if not wanted:
            continue
        have = {r[0] for r in conn.execute(sa.text("SELECT name FROM indicator WHERE task_id = :t"), {"t": task_id})}
        order = conn.execute(sa.text("SELECT COALESCE(MAX(sort_order), 0) FROM indicator WHERE task_id = :t"),
                             {"t": task_id}).scalar() or 0
        for ind_name, unit, kind, narrative in wanted:
            if ind_name in have:
                continue  # an office added one of that name already: theirs stays as it is
            order += 1
            conn.execute(sa.text(
                "INSERT INTO indicator (task_id, name, unit, kind, owner_org_id, narrative, sort_order, "
                "is_suggestion, is_outcome) VALUES (:t, :n, :u, :k, :o, :nar, :s, :no, :yes)"),
                {"t": task_id, "n": ind_name, "u": unit, "k": kind, "o": owner_id, "nar": narrative, "s": order,
                 "no": False, "yes": True})


def _drop_unused_outcomes() -> None:
    """Undo _add_default_outcomes where nothing refers to the indicator yet. An outcome indicator
    that holds values, targets or 汇总录入 stays (deleting it would lose recorded figures); without
    the column it is an ordinary indicator again."""
    conn = op.get_bind()
    names = sorted({o[0] for outcomes in DEFAULT_OUTCOMES.values() for o in outcomes})
    unused = [r[0] for r in conn.execute(sa.text(
        "SELECT i.id FROM indicator i WHERE i.is_outcome = :yes AND i.name IN ({names}) "
        "AND NOT EXISTS (SELECT 1 FROM activity_value v WHERE v.indicator_id = i.id) "
        "AND NOT EXISTS (SELECT 1 FROM annual_target a WHERE a.indicator_id = i.id) "
        "AND NOT EXISTS (SELECT 1 FROM history_entry h WHERE h.indicator_id = i.id)".format(
            names=", ".join(f":n{k}" for k in range(len(names))))),
        {"yes": True, **{f"n{k}": n for k, n in enumerate(names)}})]
    for ind_id in unused:
        conn.execute(sa.text("DELETE FROM plausibility_rule WHERE indicator_id = :i OR per_indicator_id = :i"),
                     {"i": ind_id})
        conn.execute(sa.text("DELETE FROM indicator_baseline WHERE indicator_id = :i"), {"i": ind_id})
        conn.execute(sa.text("DELETE FROM indicator WHERE id = :i"), {"i": ind_id})


def downgrade() -> None:
    _drop_unused_outcomes()
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('industry')

    # A plain DROP COLUMN, as 0016 does: a batch rebuild of indicator fails on SQLite once anything
    # refers to an indicator (activity values, targets, the outcome indicators kept above).
    op.execute("ALTER TABLE indicator DROP COLUMN is_outcome")

    with op.batch_alter_table('match_invitation', schema=None) as batch_op:
        batch_op.drop_index('uq_match_invitation_creator_key')
        batch_op.drop_index('ix_match_invitation_member')
        batch_op.drop_index('ix_match_invitation_county_task')

    op.drop_table('match_invitation')
    with op.batch_alter_table('exemplar_nomination', schema=None) as batch_op:
        batch_op.drop_index('uq_exemplar_nomination_creator_key')
        batch_op.drop_index('ix_exemplar_nomination_status_year')
        batch_op.drop_index(batch_op.f('ix_exemplar_nomination_member_id'))

    op.drop_table('exemplar_nomination')
