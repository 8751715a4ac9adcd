"""What the content endpoints share: uploads, Vault-style parameter parsing, the repository, starting
document jobs and guarding their results endpoints.

Uploads are parsed here rather than by the generic endpoint wrapper (whose forms carry no files and
whose body limit is for JSON): the handler, already in a worker thread, streams the multipart body
from the event loop through a size limit, and the file part is spooled to disk by the parser.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from vaultjobs import errors
from vaultjobs.api.endpoint import Call
from vaultjobs.api.failures import BodyTooLarge
from vaultjobs.api.params import parse_id
from vaultjobs.api.routes import jobs_of
from vaultjobs.api.services import Services
from vaultjobs.content.repository import ContentError, ContentRepository, ContentUnavailable
from vaultjobs.jobs import JobRequest, require_access
from vaultjobs.models import Job, User
from vaultjobs.store.dialect import Connection

#: Vault's largest document file (4 GB); staging uploads are limited to 50 MB as in Vault.
MAX_DOCUMENT_BYTES = 4 * 1024**3
MAX_STAGING_UPLOAD_BYTES = 50 * 1024**2
MAX_FIELD_LENGTH = 10_000

#: ``name__v``, ``product__v``, ``custom_field__c`` …
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,60}__[a-z]{1,4}$")
#: Fields the repository sets itself; a request may not.
SYSTEM_FIELDS = frozenset(
    {
        "id", "binder__v", "major_version_number__v", "minor_version_number__v", "created_by__v",
        "document_creation_date__v", "version_created_by__v", "version_creation_date__v", "filename__v",
        "latest_version__v", "version_id",
    }
)
ROLE_FIELD = re.compile(r"^([a-z][a-z0-9_]{0,60}__[a-z]{1,4})\.users$")


@dataclass
class Upload:
    """A parsed request form: its text fields and at most one file (field ``file``)."""

    fields: dict[str, str] = field(default_factory=dict)
    file: UploadFile | None = None

    def close(self) -> None:
        if self.file is not None:
            self.file.file.close()


async def _limited(stream: AsyncGenerator[bytes, None], limit: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The request body is larger than {limit} bytes")
        yield chunk


def read_upload(call: Call, max_bytes: int) -> Upload:
    """Parse a multipart or urlencoded body (from a handler's worker thread); other bodies give no fields."""
    request = call.request
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"The request body is larger than {max_bytes} bytes")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    async def parse() -> Upload:
        stream = _limited(request.stream(), max_bytes)
        if content_type == "multipart/form-data":
            form = await MultiPartParser(
                request.headers, stream, max_files=1, max_fields=200, max_part_size=64 * 1024
            ).parse()
        elif content_type == "application/x-www-form-urlencoded":
            form = await FormParser(request.headers, stream, max_fields=200, max_part_size=64 * 1024).parse()
        else:
            async for _ in stream:
                pass
            return Upload()
        upload = Upload()
        for key, value in form.multi_items():
            if isinstance(value, str):
                upload.fields[key] = value
            elif key == "file" and upload.file is None:
                upload.file = value
            else:
                value.file.close()
                raise errors.InvalidData(f"Unexpected file in field [{key[:100]}]; send one file named [file]")
        return upload

    try:
        return anyio.from_thread.run(parse)
    except MultiPartException as exc:
        raise errors.InvalidData(f"The request body is not a valid form: {exc.message}") from exc


def parse_bool(query: Mapping[str, str], name: str, default: bool) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise errors.InvalidData(f"Invalid value for parameter [{name}]: must be true or false")


def parse_number(raw: object, name: str) -> int:
    """A version number (``major_version_number__v`` …): a non-negative integer."""
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise errors.InvalidData(f"Invalid value for [{name}]: [{text[:64]}] is not a version number")
    return int(text)


def parse_document_id(raw: object, name: str = "id") -> int:
    """A document id as Vault clients send it: an integer, or a string of digits."""
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) == 0:
        raise errors.InvalidData(f"Invalid value for [{name}]: [{text[:64]}] is not a valid id")
    return int(text)


@dataclass
class FieldValues:
    fields: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, list[int]] = field(default_factory=dict)
    number: tuple[int, int] | None = None


def field_values(form: Mapping[str, str], *, extra: frozenset[str] = frozenset()) -> FieldValues:
    """Document field values of a create/update form: Vault field names only, system fields refused,
    ``{role}.users`` as comma-separated user ids, and an optional explicit version number."""
    out = FieldValues()
    major = form.get("major_version_number__v")
    minor = form.get("minor_version_number__v")
    if (major is None) != (minor is None):
        missing = "minor_version_number__v" if minor is None else "major_version_number__v"
        raise errors.ParameterRequired.named(missing)
    if major is not None and minor is not None:
        out.number = (parse_number(major, "major_version_number__v"), parse_number(minor, "minor_version_number__v"))
        if out.number == (0, 0):
            raise errors.InvalidData("Invalid value for [minor_version_number__v]: version 0.0 does not exist")
    for key, value in form.items():
        if key in extra or key in ("major_version_number__v", "minor_version_number__v"):
            continue
        role = ROLE_FIELD.match(key)
        if role:
            out.roles[role.group(1)] = parse_user_ids(value, key)
            continue
        if not FIELD_NAME.match(key):
            raise errors.InvalidData(f"Unknown field [{key[:100]}]")
        if key in SYSTEM_FIELDS:
            raise errors.InvalidData(f"Field [{key}] is set by the system and cannot be given")
        if len(value) > MAX_FIELD_LENGTH:
            raise errors.InvalidData(f"Invalid value for [{key}]: longer than {MAX_FIELD_LENGTH} characters")
        out.fields[key] = value
    if len(str(out.fields.get("name__v", ""))) > 100:
        raise errors.InvalidData("Invalid value for [name__v]: at most 100 characters")
    return out


def parse_user_ids(raw: str, name: str) -> list[int]:
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if part:
            ids.append(parse_document_id(part, name))
    return sorted(set(ids))


def content_error(exc: ContentError) -> errors.VaultError:
    """The Vault error a repository refusal becomes."""
    if exc.type == "INSUFFICIENT_ACCESS":
        return errors.InsufficientAccess(str(exc))
    return errors.InvalidData(str(exc))


class ContentRoutes:
    """Base of the content route classes: the repository, and document jobs started like ``run`` does."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.jobs = jobs_of(services)
        try:
            self._repo: ContentRepository | None = ContentRepository(
                services.store, services.settings.data_dir, services.clock, blobs=services.settings.content_blobs
            )
        except ContentUnavailable:
            self._repo = None

    @property
    def repo(self) -> ContentRepository:
        if self._repo is None:
            raise errors.OperationNotAllowed("This server's store has no content repository")
        return self._repo

    def start_job(self, call: Call, user: User, processor: str, title: str, parameters: dict[str, Any], *,
                  within: Callable[[Connection, Job], None] | None = None) -> Job:
        """Create a QUEUED job exactly as ``…/processors/{name}/actions/run`` would, and wake the engine.

        The processor is the route's, not the caller's choice, so its absence is the server's state
        (OPERATION_NOT_ALLOWED), not bad data.
        """
        try:
            return self.jobs.enqueue(
                user, JobRequest(processor=processor, parameters=parameters, title=title, method=call.request.method),
                within=within,
            )
        except errors.ProcessorNotInstalled as exc:
            raise errors.OperationNotAllowed(f"The [{title}] job type is not installed on this server") from exc

    def finished_job(self, call: Call, processors: frozenset[str], what: str) -> tuple[Job, User]:
        """The job of a results endpoint: one of ``processors``, readable by the caller, no longer active."""
        user = call.require_user()
        job_id = parse_id(str(call.path_params["job_id"]))
        job = self.s.store.jobs.get_job(job_id)
        if job is None or job.processor not in processors:
            raise errors.InvalidData(f"[{job_id}] is not the id of {what} job")
        require_access(user, job_id, job)
        if not job.status.is_terminal:
            raise errors.OperationNotAllowed(
                f"Job [{job_id}] is {job.status.value}; its results are available once it is no longer active"
            )
        return job, user
