# A replica that answers with its container's hostname (the short container id), so a test
# can tell which replica the router sent a request to. /healthz answers 200.
use strict;
use warnings;
use IO::Socket::INET;

my $name = $ENV{HOSTNAME} // 'unknown';
my $server = IO::Socket::INET->new(LocalPort => 8080, Listen => 128, ReuseAddr => 1, Proto => 'tcp')
  or die "cannot listen on 8080: $!";
$SIG{TERM} = sub { exit 0 };
while (1) {
  my $client = $server->accept or next;
  my $request = <$client> // '';
  while (my $header = <$client>) { last if $header =~ /^\r?\n$/ }
  my $body = "$name\n";
  print $client "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
  close $client;
}
