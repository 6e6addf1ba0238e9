//! Notifications and run reports through the real `etl` binary: mail to a real SMTP server on
//! loopback (aiosmtpd, installed with pip when missing), and `etl report` pages checked for
//! their content and well-formedness.

#[allow(dead_code)]
#[path = "../cli/support.rs"]
mod support;

mod mail;
mod report;
mod smtp;
mod wellformed;
