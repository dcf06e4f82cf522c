"""mypy plugin: a SQLModel table's column, read on the class, is a SQL expression.

At run time ``Organisation.id`` (on the class) is SQLAlchemy's ``InstrumentedAttribute`` — it has
``in_()``, ``desc()``, ``is_(None)`` and ``==`` builds a SQL condition — while ``org.id`` (on an
instance) is the plain value. SQLModel declares both as the plain value (``int | None``), so mypy
reported every ``select(...).where(Organisation.id == x)`` as an error: about 900 of the 1,278
findings the first configured run gave. This plugin tells mypy what really happens, for table
classes only (``class X(SQLModel, table=True)``), for the fields declared in the class body; instance
access keeps the declared type, so ``int | None`` ids are still checked where they are used as ints.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import TypeInfo, Var
from mypy.plugin import AttributeContext, ClassDefContext, Plugin
from mypy.plugins.common import add_attribute_to_class
from mypy.types import Instance, Type

SQLMODEL = "sqlmodel.main.SQLModel"
ATTRIBUTE = "sqlalchemy.orm.attributes.InstrumentedAttribute"
TABLE = "sqlalchemy.sql.schema.Table"


def _is_table(info: TypeInfo) -> bool:
    if not info.has_base(SQLMODEL):
        return False
    return any("table" in base.defn.keywords for base in info.mro if base.fullname != SQLMODEL)


class SQLModelColumns(Plugin):
    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        return _add_table if fullname == SQLMODEL else None

    def get_class_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        owner, _, name = fullname.rpartition(".")
        if name.startswith("_"):
            return None
        found = self.lookup_fully_qualified(owner)
        if found is None or not isinstance(found.node, TypeInfo) or not _is_table(found.node):
            return None
        member = found.node.get(name)
        if member is None or not isinstance(member.node, Var) or member.node.is_classvar:
            return None
        return _as_column


def _as_column(ctx: AttributeContext) -> Type:
    module, _, name = ATTRIBUTE.rpartition(".")
    tree = ctx.api.modules.get(module)  # type: ignore[attr-defined]
    found = tree.names.get(name) if tree is not None else None
    if found is None or not isinstance(found.node, TypeInfo):  # SQLAlchemy not analysed: leave it
        return ctx.default_attr_type
    return Instance(found.node, [ctx.default_attr_type])


def _add_table(ctx: ClassDefContext) -> None:
    """``__table__``: SQLAlchemy's ``Table``, which every table class has at run time."""
    if "table" not in ctx.cls.keywords:
        return
    found = ctx.api.lookup_fully_qualified_or_none(TABLE)
    if found is None or not isinstance(found.node, TypeInfo):
        if not ctx.api.final_iteration:
            ctx.api.defer()
        return
    add_attribute_to_class(ctx.api, ctx.cls, "__table__", Instance(found.node, []), is_classvar=True)


def plugin(version: str) -> type[Plugin]:
    return SQLModelColumns
