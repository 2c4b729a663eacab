"""Models: requests and responses (the API), and records (what is stored). Never return a record raw."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from functions.auth import passwords
from functions.auth.apikeys import KEY_SCOPES

# --- API ---------------------------------------------------------------------------------------


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr = Field(examples=["ada@example.com"])
    # The length rule is the password policy's (functions/auth/passwords.py, a 422 naming the rule); the
    # schema states the same bounds from the same constants.
    password: str = Field(
        min_length=1,
        max_length=1024,
        description="Not a common password, and not containing the email's name",
        examples=["correct horse battery"],
        json_schema_extra={"minLength": passwords.MIN_LENGTH, "maxLength": passwords.MAX_LENGTH},
    )
    display_name: str | None = Field(default=None, min_length=1, max_length=80)

    @field_validator("email")
    @classmethod
    def normalise_email(cls, value: str) -> str:
        return value.strip().lower()


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=10, max_length=200)


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80, examples=["ci uploader"])
    # At least one, each from KEY_SCOPES: the rule is apikeys.check_scopes' (a 422 naming each unknown
    # scope); the schema states it from the same constant.
    scopes: list[Annotated[str, Field(json_schema_extra={"enum": sorted(KEY_SCOPES)})]] = Field(
        max_length=10,
        json_schema_extra={"minItems": 1},
        description="At least one; each checked against the fixed set (an unknown scope is a 422)",
        examples=[["videos:read", "videos:write"]],
    )


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str | None
    created_at: str


class UserEnvelope(BaseModel):
    user: UserOut


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: str
    last_used_at: str | None = None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The whole key. Shown once: only its hash is kept.")


class JsonWebKey(BaseModel):
    model_config = ConfigDict(extra="allow")
    kty: str
    kid: str
    use: str | None = None
    alg: str | None = None
    n: str
    e: str


class JsonWebKeySet(BaseModel):
    keys: list[JsonWebKey]


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


# --- records ---------------------------------------------------------------------------------------


class UserRecord(BaseModel):
    id: str
    email: str
    display_name: str | None = None
    password_hash: str
    created_at: str

    def public(self) -> UserOut:
        return UserOut(
            id=self.id, email=self.email, display_name=self.display_name, created_at=self.created_at
        )


class RefreshRecord(BaseModel):
    fingerprint: str
    user_id: str
    session_id: str
    expires_at: int
    used: bool = False


class SessionRecord(BaseModel):
    id: str
    user_id: str
    expires_at: int
    revoked: bool = False


class ApiKeyRecord(BaseModel):
    id: str
    user_id: str
    name: str
    prefix: str
    fingerprint: str
    scopes: list[str]
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None

    def public(self) -> ApiKeyOut:
        return ApiKeyOut(
            id=self.id,
            name=self.name,
            prefix=self.prefix,
            scopes=self.scopes,
            created_at=self.created_at,
            last_used_at=self.last_used_at,
        )


class RegistrationInput(BaseModel):
    """What the registration saga carries. A password hash, never the password."""

    user_id: str
    email: str
    display_name: str | None = None
    password_hash: str
    created_at: str


class ProfileRecord(BaseModel):
    """An account's quota and plan, created by the registration saga. `plan` None: none stored yet."""

    user_id: str
    quota_bytes: int
    plan: str | None = None
    created_at: str


class WorkflowOutcome(BaseModel):
    """How a finished registration execution ended: Step Functions' status and, if it failed, its error."""

    status: str
    error: str | None = None
