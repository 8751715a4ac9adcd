"""Options the commands share, declared once, and how a group of them reaches a command as one value.

Server options set a `Settings` field: `Settings.read_env` reads their environment variable
(``VAULTJOBS_*``), the option only names it in ``--help``, so each value is parsed by one rule. A
value that came from the environment is then checked against the option's type, so that
``VAULTJOBS_WORKERS=-1`` is refused exactly as ``--workers -1`` is. Client options read their
``VAULT_*`` variables through click, their only reader. Either way a command receives its group as
one value (``settings: Settings``, ``connection: Connection``) built by `option_group`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import click

from vaultjobs import settings as settings_module
from vaultjobs.settings import Settings

__all__ = [
    "SettingOption",
    "json_option",
    "job_id_argument",
    "option_group",
    "setting_option",
    "settings_options",
]

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def option_group(*options: Decorator, into: str, build: Callable[..., Any]) -> Callable[[F], F]:
    """Add ``options`` to a command and pass them to it as one argument ``into``, ``build(**values)``."""
    names = _names(options)

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[into] = build(**{name: kwargs.pop(name) for name in names})
            return func(*args, **kwargs)

        decorated: Callable[..., Any] = wrapper
        for option in reversed(options):
            decorated = option(decorated)
        return cast(F, decorated)

    return decorate


def _names(options: Sequence[Decorator]) -> list[str]:
    """The parameter names ``options`` declare (applied to a throwaway function to find out)."""

    def probe() -> None:
        """Only carries the parameters."""

    for option in options:
        option(probe)
    params: list[click.Parameter] = probe.__click_params__  # type: ignore[attr-defined]
    return [str(param.name) for param in params]


class SettingOption(click.Option):
    """An option that sets a `Settings` field; `Settings`, not click, reads its environment variable."""

    def __init__(self, param_decls: Sequence[str], *, setting: str, **attrs: Any) -> None:
        if setting not in Settings.__dataclass_fields__:
            raise TypeError(f"{setting!r} is not a field of Settings")
        attrs.setdefault("help", settings_module.describe(setting))
        super().__init__(param_decls, envvar=settings_module.env_var(setting), show_envvar=True, **attrs)
        self.setting = setting

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        return None

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        shown = shown_default(settings_module.default(self.setting))
        if shown:
            extra["default"] = shown
        return extra

    def check(self, value: Any, ctx: click.Context) -> None:
        """Refuse a value from the environment that the flag's type would refuse."""
        try:
            for item in value if self.multiple else (value,):
                self.type.convert(item, self, ctx)
        except click.BadParameter as exc:
            raise click.UsageError(f"{self.envvar}: {exc.message}", ctx) from exc


def shown_default(value: Any) -> str:
    """A setting's default as ``--help`` and the settings page show it (empty when there is none)."""
    if value is None or value == "" or value == ():
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def setting_option(setting: str, *decls: str, name: str | None = None, **attrs: Any) -> Decorator:
    """``--<setting>`` (or ``decls``) for the `Settings` field ``setting``; ``name`` tells apart two
    options of one setting (a flag and its old name)."""
    flags = decls or (f"--{setting.replace('_', '-')}",)
    return click.option(*flags, name or setting, cls=SettingOption, setting=setting, **attrs)


def _build_settings(**flags: Any) -> Settings:
    ctx = click.get_current_context()
    options = [p for p in ctx.command.params if isinstance(p, SettingOption) and p.name in flags]
    given: dict[str, Any] = {}
    for option in options:
        value = flags[str(option.name)]
        if value is None or value == ():
            continue
        if option.setting in given:
            names = " or ".join(o.opts[0] for o in options if o.setting == option.setting)
            raise click.UsageError(f"give {names}, not both", ctx)
        given[option.setting] = value
    try:
        from_env = Settings.read_env()
    except ValueError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    for option in options:
        if option.setting not in given and option.setting in from_env:
            option.check(from_env[option.setting], ctx)
    try:
        return Settings(**{**from_env, **given})
    except ValueError as exc:
        raise click.UsageError(str(exc), ctx) from exc


def settings_options(*options: Decorator) -> Callable[[F], F]:
    """Setting options, passed to the command as ``settings``: defaults < environment < flags."""
    return option_group(*options, into="settings", build=_build_settings)


json_option = click.option("--json", "json_output", is_flag=True, help="Machine-readable JSON on stdout.")


def job_id_argument(func: F) -> F:
    return click.argument("job_id", type=click.IntRange(min=1))(func)
