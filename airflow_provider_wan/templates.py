"""Template files per field: prompts from ``.txt``/``.j2``/``.md`` files, a request from a ``.json`` file.

Airflow applies ``template_ext`` to every templated field, and to every string nested in one: with
``.json`` in it, an ``s3_destination`` or a prompt that happens to end in ".json" would be looked up as a
file. :class:`TemplateFilesMixin` keeps ``template_ext`` (the union, which Airflow's UI and serialization
read) but narrows it per field while Airflow reads files (``resolve_template_files``, at parse time) and
renders them (``_do_render_template_fields``, the hook Airflow's ``MappedOperator`` calls on the unmapped
task, so mapped tasks get the same rule). Only a field's top-level string is a file name, never a string
nested in a list or dict. Files are found through the DAG's template search path (``template_searchpath``
and the DAG file's folder) and rendered with Jinja and the task's context, like any Airflow template file.

Once a field is rendered, the query string of every URL in it is registered with Airflow's secrets masker
(:func:`.redaction.mask_url_tokens`), so the rendered-fields view and the task log show ``?***``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

log = logging.getLogger(__name__)

PROMPT_FILE_EXTENSIONS: tuple[str, ...] = (".txt", ".j2", ".md")
REQUEST_FILE_EXTENSIONS: tuple[str, ...] = (".json",)
#: Which fields may name a template file, and with which extensions.
FILE_EXTENSIONS_BY_FIELD: Mapping[str, tuple[str, ...]] = {
    "positive_prompt": PROMPT_FILE_EXTENSIONS,
    "negative_prompt": PROMPT_FILE_EXTENSIONS,
    "request": REQUEST_FILE_EXTENSIONS,
}


def file_extensions(by_field: Mapping[str, Sequence[str]], field: str, value: object) -> tuple[str, ...]:
    """The extensions under which ``value`` of ``field`` names a template file; () when it is no file."""
    allowed = tuple(by_field.get(field, ()))
    if isinstance(value, str) and allowed and value.endswith(allowed):
        return allowed
    return ()


class TemplateFilesMixin:
    """Per-field ``template_ext`` for an operator (put it before ``BaseOperator`` in the class bases)."""

    template_ext_by_field: ClassVar[Mapping[str, tuple[str, ...]]] = FILE_EXTENSIONS_BY_FIELD
    template_ext: Sequence[str] = (*PROMPT_FILE_EXTENSIONS, *REQUEST_FILE_EXTENSIONS)
    # Fields whose file ``resolve_template_files`` already read: their value is the file's text.
    _fields_read_from_files: frozenset[str] = frozenset()

    @contextmanager
    def _template_ext_narrowed(self, extensions: tuple[str, ...]) -> Iterator[None]:
        # Airflow's Templater reads ``self.template_ext`` for every string it renders: shadow the class
        # attribute on this instance while one field renders, then let the class attribute show again.
        self.template_ext = extensions
        try:
            yield
        finally:
            del self.template_ext

    def resolve_template_files(self) -> None:
        """Read the template files named by file-capable fields (Airflow calls this when parsing)."""
        get_env = getattr(self, "get_template_env", None)
        resolved: set[str] = set()
        for field in getattr(self, "template_fields", ()):
            content = getattr(self, field, None)
            if not file_extensions(self.template_ext_by_field, field, content) or get_env is None:
                continue
            env = get_env()
            try:
                setattr(self, field, env.loader.get_source(env, content)[0])
            except Exception:  # rendering names the missing file with the parameter
                log.warning("Template file %r of %s not found when parsing", content, field)
            else:
                resolved.add(field)
        # The file's text is the template now: text that happens to end in ".txt" is no file name.
        self._fields_read_from_files = frozenset(resolved)
        prepare = getattr(self, "prepare_template", None)
        if callable(prepare):
            prepare()

    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Iterable[str],
        context: Context,
        jinja_env: jinja2.Environment,
        seen_oids: set[int],
    ) -> None:
        from airflow_provider_wan.redaction import mask_url_tokens  # at render time, not at parse time

        base: Any = super()
        if parent is not self:  # a nested object's own template fields: Airflow's rules apply
            base._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
            return
        for field in template_fields:
            value = getattr(self, field, None)
            by_field = {} if field in self._fields_read_from_files else self.template_ext_by_field
            extensions = file_extensions(by_field, field, value)
            if extensions:
                _check_template_file(jinja_env, field, str(value))
            with self._template_ext_narrowed(extensions):
                base._do_render_template_fields(parent, [field], context, jinja_env, seen_oids)
            # Before Airflow stores the rendered fields (redacted) and before any log line: the query
            # strings of URLs (presigned upload_endpoint, webhookURL tokens, signed inputs) are secrets.
            mask_url_tokens(getattr(self, field, None))


def _check_template_file(jinja_env: jinja2.Environment, field: str, name: str) -> None:
    """Name the field and the search path when a template file is missing (before any request)."""
    import jinja2

    from airflow_provider_wan.errors import InvalidRequestError

    loader = jinja_env.loader
    try:
        if loader is None:  # an operator outside any DAG has no search path
            raise jinja2.TemplateNotFound(name)
        loader.get_source(jinja_env, name)
    except jinja2.TemplateNotFound:
        searchpath = getattr(loader, "searchpath", None)
        where = f" (searched: {', '.join(map(str, searchpath))})" if searchpath else ""
        raise InvalidRequestError(
            f"template file {name!r} not found in the DAG's template search path{where}; "
            "add its folder to the DAG's template_searchpath",
            parameter=field,
        ) from None
