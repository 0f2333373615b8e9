"""A follow-up's In-Reply-To stays on one line whatever the length of the first email's Message-ID (a
five-digit pid and a large deal id once made the header 79 columns: the email package folded it, and it
read back with a leading space, so the follow-up no longer matched the first email's id exactly)."""

from email import message_from_bytes, policy

from app.models import Enrollment
from app.sequences import service
from app.sequences.sending import build_message


def test_a_follow_up_to_a_long_message_id_carries_it_on_one_line(sequence, contact, rep):
    service.enroll(sequence, contact, rep)
    enrollment = Enrollment.query.one()
    long_id = "<179644226199.24103.10928121206378720303.sg276.103@stagegate.test>"  # 79 columns with its name
    message = build_message(enrollment, sequence.steps[1], "<next@stagegate.test>", [long_id], "tok",
                            base="https://stagegate.test")
    raw = message.as_bytes()
    assert f"In-Reply-To: {long_id}\r\n".encode() in raw
    assert message_from_bytes(raw, policy=policy.default)["In-Reply-To"] == long_id
