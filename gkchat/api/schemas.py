"""Request and response bodies (Pydantic), used only at the edge."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gkchat.domain.models import FriendRequest, Friendship, Session, User


def _storable(value: str) -> str:
    """Refuse what no database can store as text: NUL and unpaired surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


def _documented(**constraints: object) -> Any:
    """JSON Schema constraints for the OpenAPI document only: the services enforce them, each
    with its own error code, so Pydantic must not refuse first with a generic one."""
    return Field(json_schema_extra=constraints)  # type: ignore[arg-type]


class RegisterIn(Body):
    username: Annotated[Text, _documented(minLength=3, maxLength=32, pattern="^[A-Za-z0-9_.]+$")]
    email: Annotated[Text, _documented(format="email")]
    password: Annotated[Text, _documented(minLength=8)]


class LoginIn(Body):
    login: Text
    password: Text


class PublicUser(BaseModel):
    id: str
    username: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> "PublicUser":
        return cls(id=user.id, username=user.username, created_at=user.created_at)


class OwnUser(PublicUser):
    email: str

    @classmethod
    def of(cls, user: User) -> "OwnUser":
        return cls(id=user.id, username=user.username, created_at=user.created_at, email=user.email)


class AuthOut(BaseModel):
    user: OwnUser
    token: str
    expires_at: datetime


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime
    user_agent: str | None
    current: bool

    @classmethod
    def of(cls, session: Session, *, expires_at: datetime, current: bool) -> "SessionOut":
        return cls(
            id=session.id,
            created_at=session.created_at,
            expires_at=expires_at,
            last_used_at=session.last_used_at,
            user_agent=session.user_agent,
            current=current,
        )


class SessionsOut(BaseModel):
    sessions: list[SessionOut]


class UsersOut(BaseModel):
    users: list[PublicUser]


class HealthOut(BaseModel):
    status: str
    database: str


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


class UserIdIn(Body):
    user_id: Text


class FriendRequestOut(BaseModel):
    id: str
    from_user: PublicUser
    to_user: PublicUser
    created_at: datetime

    @classmethod
    def of(cls, request: FriendRequest) -> "FriendRequestOut":
        return cls(
            id=request.id,
            from_user=PublicUser.of(request.from_user),
            to_user=PublicUser.of(request.to_user),
            created_at=request.created_at,
        )


class FriendshipOut(BaseModel):
    user: PublicUser
    since: datetime

    @classmethod
    def of(cls, friendship: Friendship) -> "FriendshipOut":
        return cls(user=PublicUser.of(friendship.user), since=friendship.since)


class RequestEnvelope(BaseModel):
    request: FriendRequestOut


class FriendshipEnvelope(BaseModel):
    friendship: FriendshipOut


class RequestsOut(BaseModel):
    requests: list[FriendRequestOut]
    next_before: str | None


class FriendsOut(BaseModel):
    friends: list[FriendshipOut]
    next_before: str | None


class BlockedUsersOut(BaseModel):
    users: list[PublicUser]
    next_before: str | None


MessageContent = Annotated[str, _documented(minLength=1, maxLength=4000)]


class SendMessageIn(Body):
    recipient_id: str
    content: MessageContent
    client_id: str | None = None


class EditMessageIn(Body):
    content: MessageContent


class ReadIn(Body):
    up_to: str


class MessageOut(BaseModel):
    id: str
    sender_id: str
    recipient_id: str
    content: str
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    client_id: str | None
    seq: int = Field(description="Position in the conversation: a later message has a larger one")


class MessageEnvelope(BaseModel):
    message: MessageOut


class MessagesOut(BaseModel):
    messages: list[MessageOut]
    next_before: str | None


class ConversationOut(BaseModel):
    peer: PublicUser
    last_message: MessageOut | None
    unread_count: int
    muted: bool
    peer_delivered_seq: int = Field(description="The peer has received messages up to this seq")
    peer_read_seq: int = Field(description="The peer has read messages up to this seq")


class ConversationsOut(BaseModel):
    conversations: list[ConversationOut]
    next_before: str | None


class EventOut(BaseModel):
    type: str
    data: dict[str, Any]
    cursor: str


class SyncOut(BaseModel):
    events: list[EventOut]
    cursor: str
    has_more: bool


class NotificationOut(BaseModel):
    id: str
    type: str
    reference_id: str | None
    content: str
    created_at: datetime
    read_at: datetime | None
    actor_id: str | None
    count: int


class NotificationsOut(BaseModel):
    notifications: list[NotificationOut]
    unread_count: int
    next_before: str | None
