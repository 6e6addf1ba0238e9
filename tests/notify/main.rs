//! Notifications and run reports through the real `etl` binary: mail to a real SMTP server on
//! loopback (aiosmtpd, installed with pip when missing), and `etl report` pages checked for
//! their content and well-formedness; and every output searched for connection passwords.

#[allow(dead_code)]
#[path = "../cli/support.rs"]
mod support;

#[path = "../common/mod.rs"]
mod common;

mod mail;
mod report;
mod secrets;
mod smtp;
mod wellformed;
