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
                  :name => "t/0",
                  :path => [:prefix, "/fast"],
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-19b5794c"}],
                },
                {
                  :name => "t/1",
                  :path => [:prefix, "/backend"],
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-819236eb"}],
                },
                {
                  :name => "t/2",
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
