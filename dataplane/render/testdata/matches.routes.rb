# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    80 => {
      :tls => false,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "httproute/default/m/rule/0/match/0",
                  :path => [:exact, "/exact"],
                  :method => "POST",
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
                },
                {
                  :name => "httproute/default/m/rule/1/match/0",
                  :path => [:prefix, "/api"],
                  :headers => [["x-version", "two"], ["x-quote", "a \x22\x23\x7bx\x7d\x22 \x5c b"]],
                  :query => [["animal", "whale"]],
                  :backends => [{:weight => 1, :cluster => "svc-default-v2-80-778bf769"}],
                },
                {
                  :name => "httproute/default/m/rule/2/match/0",
                  :path => [:prefix, ""],
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
                },
              ],
            },
          ],
        },
      ],
    },
  },
  :buckets => 0,
  :shards => "",
  :resp => [],
}
